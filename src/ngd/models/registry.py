"""Model names accepted by ``ngd.fit(model=...)`` and ``--model``; '-' and '_' are equivalent.

"logistic" is the binomial-logit model on 0/1 labels with the fused Cython pass; the GLM
family names build a :class:`GLM` (any link); "softmax" is the multinomial model;
"negative_binomial" (aliases "negbin", "nb2") is the NB2 GLM, its alpha fixed or estimated
(ngd.models.negbin).
"""
from ngd.models.families import FAMILIES, FAMILY_ALIASES

GLM_MODELS = tuple(FAMILIES)
MODEL_NAMES = ("logistic", "softmax") + GLM_MODELS


def normalise_model_name(name):
    """Canonical model name ('-' -> '_', lower case, aliases such as "negbin" resolved);
    ValueError if unknown."""
    if not isinstance(name, str):
        raise TypeError(f"model must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    key = FAMILY_ALIASES.get(key, key)
    if key not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(MODEL_NAMES)}")
    return key


def get_model(name):
    """The model class for ``name`` (GLM for every family name)."""
    key = normalise_model_name(name)
    if key == "logistic":
        from ngd.models.logistic import LogisticModel
        return LogisticModel
    if key == "softmax":
        from ngd.models.softmax import SoftmaxModel
        return SoftmaxModel
    from ngd.models.glm import GLM
    return GLM
