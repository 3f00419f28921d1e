"""The domain core: every coordination rule lives here, once. Front ends call these functions with a Context."""
