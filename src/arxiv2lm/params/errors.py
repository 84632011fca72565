"""The one error of the params package."""


class ParamsError(ValueError):
    """A params.yaml section that does not match its dataclass."""
