"""The only hazmat in the app: C layouts, function pointers and pyopenxr.

Everything above this package takes and returns plain Python values.
"""
