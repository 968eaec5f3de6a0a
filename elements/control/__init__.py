"""Control elements: ControlSocket, Script, DriverManager, Message, Error, AddressInfo (Python: cold code)."""
