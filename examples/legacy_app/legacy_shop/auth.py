"""Clerk sign-in, the legacy way: a user table in the code."""

import hashlib

SALT = "shop-salt"
# user -> (sha256 of "salt:password", role). "ada" is the shop's test account; her password
# is "correct horse".
USERS = {"ada": ("2fdba5eb3913c39760c237cd85bbe626cd393641efdb335ff1bb7a7ac9cdef2d", "clerk")}


def login(username, password):
    """The clerk's session; PermissionError for an unknown user or a wrong password."""
    digest = hashlib.sha256(f"{SALT}:{password}".encode()).hexdigest()
    known = USERS.get(username)
    if known is None or known[0] != digest:
        raise PermissionError(f"wrong user name or password for {username!r}")
    return {"user": username, "role": known[1]}
