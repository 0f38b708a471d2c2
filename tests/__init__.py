"""The tests: one package per room of nnscratch (tests/README.md), so two rooms may each hold a test_cnn.py."""
