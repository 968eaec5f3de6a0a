"""Control elements: ControlSocket, Script, DriverManager, Message, Error (Python: cold code)."""
