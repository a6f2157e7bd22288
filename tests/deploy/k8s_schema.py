"""Offline schema validation of Kubernetes objects with Debian's python3-kubernetes models.

    errors = validate(obj)      # [] when valid; else "StatefulSet/x: spec.tempalte: unknown field"

Each object's apiVersion/kind selects a model class (apps/v1 StatefulSet -> V1StatefulSet), and the
object is walked against the models' `openapi_types` / `attribute_map`: every field name must exist
(a misspelled field is an error, which `kubectl apply` would only catch on a server), every value
must have the declared type, and every required field must be present (the models' setters reject
None for them).

The models are Kubernetes 1.22's; fields added later are accepted only through ALLOWED_NEWER
(model, field) -> schema, which checks them with the same rules (e.g. V1Probe.grpc, GA in 1.27).
"""
import re

import kubernetes.client as k8s

# Fields newer than the models, with their schema: {field: type} plus the required field names.
# Types: "int", "str", "bool", or a nested dict of the same shape.
ALLOWED_NEWER = {
    # GRPCAction (Kubernetes 1.24 beta, 1.27 GA): a gRPC health check probe.
    ("V1Probe", "grpc"): ({"port": "int", "service": "str"}, {"port"}),
}

_REQUIRED_RE = re.compile(r"Invalid value for `(\w+)`, must not be `None`")
_SENTINEL = object()


def model_for(api_version, kind):
    """The model class for apiVersion/kind, or None."""
    version = api_version.split("/")[-1]
    return getattr(k8s, version[0].upper() + version[1:] + kind, None)


def validate(obj):
    """Returns a list of error strings for one object (a dict from YAML)."""
    if not isinstance(obj, dict):
        return ["document is not a mapping"]
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    name = "%s/%s" % (kind, (obj.get("metadata") or {}).get("name", "?"))
    if not kind or not api_version:
        return ["%s: apiVersion and kind are required" % name]
    model = model_for(api_version, kind)
    if model is None:
        return ["%s: no schema for %s %s" % (name, api_version, kind)]
    errors = []
    _check_model(obj, model, "", errors)
    return ["%s: %s" % (name, e) for e in errors]


def _check_model(value, model, path, errors):
    if not isinstance(value, dict):
        errors.append("%s: expected an object (%s), got %s" % (path or ".", model.__name__,
                                                                type(value).__name__))
        return
    json_to_attr = {v: k for k, v in model.attribute_map.items()}
    present = {}
    for key, item in value.items():
        where = "%s.%s" % (path, key) if path else key
        if key in json_to_attr:
            attr = json_to_attr[key]
            present[attr] = item
            _check_type(item, model.openapi_types[attr], where, errors)
        elif (model.__name__, key) in ALLOWED_NEWER:
            fields, required = ALLOWED_NEWER[(model.__name__, key)]
            _check_plain(item, fields, required, where, errors)
        else:
            errors.append("%s: unknown field (not in %s)" % (where, model.__name__))
    for missing in _missing_required(model, present):
        errors.append("%s: required field missing" % (
            "%s.%s" % (path, model.attribute_map[missing]) if path else
            model.attribute_map[missing]))


def _missing_required(model, present):
    """Attributes of `model` whose setters reject None and that `present` lacks."""
    missing = []
    kwargs = {attr: (_SENTINEL if attr in present else None) for attr in model.openapi_types}
    for _ in range(len(kwargs) + 1):
        try:
            model(**kwargs)
            return missing
        except ValueError as e:
            match = _REQUIRED_RE.search(str(e))
            if not match or match.group(1) not in kwargs or kwargs[match.group(1)] is not None:
                return missing
            missing.append(match.group(1))
            kwargs[match.group(1)] = _SENTINEL
    return missing


def _check_type(value, type_name, path, errors):
    if value is None:
        return  # an explicit null is the same as absent
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append("%s: expected a list, got %s" % (path, type(value).__name__))
            return
        for i, item in enumerate(value):
            _check_type(item, type_name[5:-1], "%s[%d]" % (path, i), errors)
    elif type_name.startswith("dict("):
        if not isinstance(value, dict):
            errors.append("%s: expected a map, got %s" % (path, type(value).__name__))
            return
        inner = type_name[5:-1].split(", ", 1)[1]
        for k, item in value.items():
            _check_type(item, inner, "%s.%s" % (path, k), errors)
    elif type_name in ("str", "int", "bool", "float", "object", "datetime", "date"):
        _check_scalar(value, type_name, path, errors)
    else:
        model = getattr(k8s, type_name, None)
        if model is None:
            errors.append("%s: unknown model %s" % (path, type_name))
        else:
            _check_model(value, model, path, errors)


def _check_scalar(value, type_name, path, errors):
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "datetime": isinstance(value, str),
        "date": isinstance(value, str),
        "object": True,  # IntOrString, raw JSON
    }[type_name]
    if not ok:
        errors.append("%s: expected %s, got %s %r" % (path, type_name, type(value).__name__,
                                                      value))


def _check_plain(value, fields, required, path, errors):
    if not isinstance(value, dict):
        errors.append("%s: expected an object, got %s" % (path, type(value).__name__))
        return
    for key, item in value.items():
        if key not in fields:
            errors.append("%s.%s: unknown field" % (path, key))
        elif isinstance(fields[key], dict):
            _check_plain(item, fields[key], set(), "%s.%s" % (path, key), errors)
        else:
            _check_scalar(item, fields[key], "%s.%s" % (path, key), errors)
    for key in sorted(required - set(value)):
        errors.append("%s.%s: required field missing" % (path, key))
