"""The endpoint service: settings -> providers -> runtime -> session, shared by the
command line and the window (which only present what it decides). Qt-free."""
