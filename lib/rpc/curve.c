#include "rpc/curve.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>
#include <zmq.h>

#include "base/err.h"

bool rpc_curve_spec_set(const char *spec)
{
    return spec && spec[0];
}

static bool valid_z85_key(const char *s, size_t n)
{
    if (n != RPC_CURVE_KEY_LEN)
        return false;
    char tmp[RPC_CURVE_KEY_LEN + 1];
    uint8_t raw[32];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    bool ok = zmq_z85_decode(raw, tmp) != NULL;
    sodium_memzero(raw, sizeof(raw));
    sodium_memzero(tmp, sizeof(tmp));
    return ok;
}

/* The file's first non-blank line, trimmed, must be the key. */
static int read_key_file(const char *path, char out[RPC_CURVE_KEY_LEN + 1])
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char line[256];
    int rc = ROOST_ECONFIG;
    while (fgets(line, sizeof(line), f)) {
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        size_t n = strlen(p);
        while (n && isspace((unsigned char)p[n - 1]))
            n--;
        if (n == 0 || p[0] == '#')
            continue; /* blank or a comment: no Z85 key starts with '#' (digit 84
                       * never leads a group of a 32-bit value) */
        if (valid_z85_key(p, n)) {
            memcpy(out, p, n);
            out[n] = '\0';
            rc = 0;
        }
        break;
    }
    sodium_memzero(line, sizeof(line));
    fclose(f);
    return rc;
}

int rpc_curve_load_key(const char *spec, char out[RPC_CURVE_KEY_LEN + 1])
{
    if (!rpc_curve_spec_set(spec))
        return ROOST_ECONFIG;
    /* A readable file wins: Z85 has '/' and '.', so a path could look like a key. */
    if (access(spec, R_OK) == 0)
        return read_key_file(spec, out);
    size_t n = strlen(spec);
    if (!valid_z85_key(spec, n))
        return ROOST_ECONFIG;
    memcpy(out, spec, n + 1);
    return 0;
}

static int setopt(void *sock, int opt, const void *v, size_t n)
{
    return zmq_setsockopt(sock, opt, v, n) ? -zmq_errno() : 0;
}

int rpc_curve_server(void *sock, const char *secret_spec)
{
    if (!rpc_curve_spec_set(secret_spec))
        return 0;
    if (!zmq_has("curve"))
        return -ENOTSUP;
    char secret[RPC_CURVE_KEY_LEN + 1];
    int one = 1;
    int rc = rpc_curve_load_key(secret_spec, secret);
    if (!rc)
        rc = setopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one));
    if (!rc)
        rc = setopt(sock, ZMQ_CURVE_SECRETKEY, secret, RPC_CURVE_KEY_LEN);
    sodium_memzero(secret, sizeof(secret));
    return rc ? rc : 1;
}

int rpc_curve_client(void *sock, const char *server_spec, const char *client_secret_spec)
{
    if (!rpc_curve_spec_set(server_spec))
        return 0;
    if (!zmq_has("curve"))
        return -ENOTSUP;
    char server[RPC_CURVE_KEY_LEN + 1], pub[RPC_CURVE_KEY_LEN + 1], sec[RPC_CURVE_KEY_LEN + 1];
    int rc = rpc_curve_load_key(server_spec, server);
    if (!rc && rpc_curve_spec_set(client_secret_spec)) {
        rc = rpc_curve_load_key(client_secret_spec, sec);
        if (!rc && zmq_curve_public(pub, sec))
            rc = -zmq_errno();
    } else if (!rc) {
        rc = rpc_curve_keypair(pub, sec);
    }
    if (!rc)
        rc = setopt(sock, ZMQ_CURVE_SERVERKEY, server, RPC_CURVE_KEY_LEN);
    if (!rc)
        rc = setopt(sock, ZMQ_CURVE_PUBLICKEY, pub, RPC_CURVE_KEY_LEN);
    if (!rc)
        rc = setopt(sock, ZMQ_CURVE_SECRETKEY, sec, RPC_CURVE_KEY_LEN);
    sodium_memzero(sec, sizeof(sec));
    return rc ? rc : 1;
}

int rpc_curve_keypair(char public_key[RPC_CURVE_KEY_LEN + 1], char secret_key[RPC_CURVE_KEY_LEN + 1])
{
    if (!zmq_has("curve"))
        return -ENOTSUP;
    return zmq_curve_keypair(public_key, secret_key) ? -zmq_errno() : 0;
}
