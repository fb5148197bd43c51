/* wsc: see wsc.h. */
#include "wsc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct wsc {
	const char *path;
	int stage;            /* 0 request not sent, 1 waiting for the answer, 2 upgraded */
	char resp[1024];      /* the answer's head so far */
	size_t resp_len;
	uint8_t *out;         /* a framed write not yet all written */
	size_t out_len, out_off, out_carried;
	uint8_t hdr[14];      /* the header of the server frame being read */
	size_t hdr_len, hdr_need;
	uint64_t left;        /* payload bytes of that frame still to come */
	uint8_t op;
	uint32_t mask;        /* this connection's masking key */
};

wsc_t *wsc_new(const char *path)
{
	wsc_t *w = calloc(1, sizeof(*w));
	if (w) {
		w->path = path;
		w->hdr_need = 2;
		w->mask = (uint32_t)random() | 1u;
	}
	return w;
}

void wsc_free(wsc_t *w)
{
	if (w)
		free(w->out);
	free(w);
}

int wsc_handshake(wsc_t *w, int fd)
{
	if (w->stage == 0) {
		char req[512];
		int n = snprintf(req, sizeof(req),
		                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		                 "Sec-WebSocket-Protocol: mqtt\r\n\r\n", w->path);
		if (write(fd, req, (size_t)n) != n) /* a fresh socket takes 200 bytes */
			return -1;
		w->stage = 1;
		return 0;
	}
	if (w->stage == 2)
		return 1;
	/* one byte at a time up to the blank line: nothing of the stream after it is taken */
	for (;;) {
		if (w->resp_len + 1 >= sizeof(w->resp)) {
			errno = EPROTO;
			return -1;
		}
		ssize_t r = read(fd, w->resp + w->resp_len, 1);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (r <= 0) {
			errno = r == 0 ? ECONNRESET : errno;
			return -1;
		}
		w->resp[++w->resp_len] = 0;
		if (w->resp_len >= 4 && memcmp(w->resp + w->resp_len - 4, "\r\n\r\n", 4) == 0) {
			if (strncmp(w->resp, "HTTP/1.1 101 ", 13) != 0) {
				errno = EPROTO;
				return -1;
			}
			w->stage = 2;
			return 1;
		}
	}
}

ssize_t wsc_write(wsc_t *w, int fd, const void *p, size_t len)
{
	if (!w->out) {
		uint8_t h[14];
		size_t hl = 2;
		h[0] = 0x82;
		if (len < 126) {
			h[1] = (uint8_t)(0x80 | len);
		} else if (len < 65536) {
			h[1] = 0x80 | 126;
			h[2] = (uint8_t)(len >> 8), h[3] = (uint8_t)len;
			hl = 4;
		} else {
			h[1] = 0x80 | 127;
			for (int i = 0; i < 8; i++)
				h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
			hl = 10;
		}
		uint8_t key[4] = {(uint8_t)(w->mask >> 24), (uint8_t)(w->mask >> 16), (uint8_t)(w->mask >> 8),
		                  (uint8_t)w->mask};
		memcpy(h + hl, key, 4);
		hl += 4;
		if (!(w->out = malloc(hl + len))) {
			errno = ENOMEM;
			return -1;
		}
		memcpy(w->out, h, hl);
		const uint8_t *src = p;
		for (size_t i = 0; i < len; i++)
			w->out[hl + i] = src[i] ^ key[i & 3];
		w->out_len = hl + len;
		w->out_off = 0;
		w->out_carried = len;
	}
	while (w->out_off < w->out_len) {
		ssize_t r = write(fd, w->out + w->out_off, w->out_len - w->out_off);
		if (r < 0)
			return -1; /* EAGAIN: called again with the same bytes */
		w->out_off += (size_t)r;
	}
	free(w->out);
	w->out = NULL;
	return (ssize_t)w->out_carried;
}

ssize_t wsc_read(wsc_t *w, int fd, void *p, size_t len)
{
	uint8_t *b = p;
	ssize_t r = read(fd, b, len);
	if (r <= 0)
		return r;
	size_t in = 0, out = 0, n = (size_t)r;
	while (in < n) {
		if (w->left) {
			size_t k = n - in < w->left ? n - in : (size_t)w->left;
			if (w->op == 0x2 || w->op == 0x0)
				memmove(b + out, b + in, k), out += k;
			in += k;
			w->left -= k;
			continue;
		}
		w->hdr[w->hdr_len++] = b[in++];
		if (w->hdr_len == 2)
			w->hdr_need = 2 + ((w->hdr[1] & 0x7f) == 126 ? 2 : (w->hdr[1] & 0x7f) == 127 ? 8 : 0);
		if (w->hdr_len < w->hdr_need)
			continue;
		uint64_t l = w->hdr[1] & 0x7f;
		if (l >= 126) {
			l = 0;
			for (size_t i = 2; i < w->hdr_need; i++)
				l = l << 8 | w->hdr[i];
		}
		w->op = w->hdr[0] & 0x0f;
		w->left = l;
		w->hdr_len = 0;
		w->hdr_need = 2;
		if (w->op == 0x8)
			return out ? (ssize_t)out : 0; /* close: the stream ends */
	}
	if (out)
		return (ssize_t)out;
	errno = EAGAIN;
	return -1;
}
