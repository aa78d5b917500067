"""User-facing errors.

Everything a user can get wrong (a recipe field, a file, a model id) raises a SlimlibError whose
message is one line naming the field or file and what is allowed. The CLI prints it on stderr
and exits 2; the app shows it in a red box. Anything else is a bug and keeps its traceback.
"""


class SlimlibError(ValueError):
    """A problem with the user's input, reported as one clear line."""


class RecipeError(SlimlibError):
    """A recipe that cannot be parsed or does not fit the model."""


class ModelLoadError(SlimlibError):
    """A model id or folder that cannot be loaded."""


class DataFileError(SlimlibError):
    """A pair file or sentence file that cannot be read."""


class Cancelled(Exception):
    """Raised inside a long operation when its caller asked it to stop."""
