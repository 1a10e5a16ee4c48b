"""Where a backbone's weights come from: the hub, a local directory, or a build of our own (registry.py).

Importing the package does nothing: ``config/resolvers.py`` reads ``registry.py`` while a config is
composed, which must not import torch or transformers.
"""
