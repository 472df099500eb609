"""holoremote's window: PySide6 widgets and models on a qasync loop.

`ui` imports `app`, never the reverse. Widgets hold no protocol or crypto logic:
everything that loads, validates, generates or connects goes through
`ui.engine`, the one module here that calls into `app`, and runs off the UI thread.
"""
