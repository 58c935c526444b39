"""Schemathesis hooks for .ci/schemathesis.sh, loaded for the surfaces whose document answers
every refusal with HTTP 200 and an error code in the body (the meter surface, seed 003: "HTTP
200 always"). For those, schemathesis's negative_data_rejection check is told that 200 is a
refusal status (and unsupported_method, which wants 405, is off), and this check puts both
rules back where the document states them: a request that violates the document, or uses a
method the operation does not take, must get the error envelope (body `code` other than 200)."""

import json

import schemathesis


@schemathesis.check
def refused_in_body(ctx, response, case):
    """An invalid request must be refused: with an HTTP error status, or with HTTP 200 and a
    body whose `code` is not 200."""
    if response.status_code != 200:
        return None
    meta = case.meta
    other_method = case.method.upper() != case.operation.method.upper()
    if not other_method and (meta is None or not meta.generation.mode.is_negative):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError("HTTP 200 without a JSON body for an invalid request")
    if isinstance(body, dict) and body.get("code") == 200:
        if other_method:
            raise AssertionError(f"{case.method.upper()} on a {case.operation.method.upper()} operation answered code 200")
        component = getattr(meta.phase.data, "description", None) or "the request violates the document"
        raise AssertionError(f"Schema-violating request accepted (code 200 in the body): {component}")
    return None
