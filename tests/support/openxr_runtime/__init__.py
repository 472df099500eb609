"""A small OpenXR runtime for tests: a C shim the real Khronos loader loads, with a
Python body that offers XR_MSFT_holographic_remoting over the built-in engine.

`build.py` compiles it and writes a manifest per variant; `runtime.py` is the body;
`variants.py` says how each variant differs.
"""
