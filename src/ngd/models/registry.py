"""Model names accepted by ``ngd.fit(model=...)`` and ``--model``; '-' and '_' are equivalent."""
from ngd.models.logistic import LogisticModel

MODELS = {"logistic": LogisticModel}
PLANNED = ("softmax", "binomial", "poisson", "gamma", "gaussian", "inverse_gaussian", "tweedie")


def get_model(name):
    """The model class registered under ``name``."""
    if not isinstance(name, str):
        raise TypeError(f"model must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    if key in MODELS:
        return MODELS[key]
    if key in PLANNED:
        raise ValueError(f"model {name!r} is not implemented yet; available: "
                         f"{', '.join(sorted(MODELS))}")
    raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}")
