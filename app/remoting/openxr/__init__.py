"""The OpenXR runtime: Microsoft's Holographic Remoting (or any runtime with
XR_MSFT_holographic_remoting) loaded through the Khronos loader with pyopenxr.

Imported only when selected, so the rest of the app runs without pyopenxr's loader.
"""
