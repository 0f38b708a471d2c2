"""nnscratch beside other ecosystems: ONNX export and import (``onnx_export``, ``onnx_import``) and scikit-learn
estimators (``sklearn``).

Each module imports its optional package (``nnscratch[onnx]``, ``nnscratch[sklearn]``) only inside itself, so
importing ``nnscratch`` or this package needs none of them: ``from nnscratch.interop.sklearn import
MLPClassifier``.
"""
