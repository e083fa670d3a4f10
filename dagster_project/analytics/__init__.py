"""Model fits behind the disparity analytics (issue 5): rates and pooling, the threshold test and
the veil-of-darkness test.

Importing this package (or any module in it) does no work and imports neither JAX, NumPyro nor
statsmodels: Dagster loads the definitions on every run and in the UI, so the heavy libraries are
imported inside the functions that fit.
"""
