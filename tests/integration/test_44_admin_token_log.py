"""The generated first admin token goes to --token-file only, never to a log
(admin.log is world-readable on disk and container logs are kept). Real admin
and Redis. test_40 checks the written file; this checks the failure path:
when the file cannot be written no token is left behind that nobody holds.
"""

import os

from adminstack import AdminStack, stop, wait_until


def test_unwritable_token_file_leaves_no_token_and_logs_no_token():
    s = AdminStack(env_token=None)
    try:
        s.start_redis()
        s.token_file = "/proc/roost-no-such-dir/admin-token"   # mkdir fails: read-only procfs
        s.start_admin()
        assert wait_until(lambda: "token_file_failed" in s.admin_log())
        log = s.admin_log()
        assert "no token created" in log and "roost_" not in log.replace("token_prefix", "")
        assert s.redis_cli("ZCARD", "roost:{g}:tokens") == "0"     # revoked: nobody could read it
        # Fixed path, next start: a token is made, written, and only named in the log.
        stop(s.admin)
        s.token_file = os.path.join(s.dir, "state", "admin-token")
        s.start_admin()
        assert wait_until(lambda: os.path.exists(s.token_file))
        token = open(s.token_file).read().strip()
        assert token not in s.admin_log()
        assert s.redis_cli("ZCARD", "roost:{g}:tokens") == "1"
        assert s.request("GET", "/api/v1/clients", token=token)[0] == 200
    finally:
        s.close()
