"""42 admin readiness (issue 12): roost-admin answers /healthz 200 only once
its bootstrap token is in the store, so a client that waits for 200 and then
calls the API with ROOST_ADMIN_TOKEN cannot race the bootstrap (what made
test_31's first add_client fail with 401 once). Started while Redis is down,
admin says 503 'starting'; after Redis comes up, the first 200 means the
token works."""

import json

from stack import TOKEN, http_get, stack, wait_for  # noqa: F401  (stack: fixture)


def test_healthz_200_only_once_the_bootstrap_token_exists(stack):
    redis = stack.start_redis()
    redis.stop()                      # admin starts first: its bootstrap cannot run yet
    admin = stack.start_admin(wait=False)
    assert wait_for(lambda: http_get(admin.http_port, "/healthz", 1.0)[0] == 503, timeout=15)
    status, body = http_get(admin.http_port, "/healthz", 1.0)[:2]
    assert status == 503 and "starting" in body, (status, body)
    redis.start()
    assert wait_for(lambda: http_get(admin.http_port, "/healthz", 1.0)[0] == 200, timeout=15, interval=0.005)
    # the very first moment it is ready, the token works
    status, doc = stack.api("POST", "/api/v1/clients", {"name": "first", "username": "first",
                                                         "password": "password-1"}, token=TOKEN)
    assert status == 201, (status, json.dumps(doc))
