"""Every size limit on data that crosses the callback boundary, in one place.

Each has a reason and, where there is one, a precedent. Both sides (the app's
trampolines and the built-in runtime's invoker) use the same numbers.
"""

# The specification: "the callback implementation can request a larger buffer (of up
# to 1 KiB)". Applies to the token, the key passphrase and the subject name, and
# includes the null terminator, so the longest token is 1023 bytes.
MAX_STRING_BUFFER = 1024

# Microsoft's remote sample refuses a certificate store over 1 << 20 bytes
# (maxCertStoreSize); a PKCS#12 with a long chain is a few KiB.
MAX_CERT_STORE_BYTES = 1 << 20

# A server chain longer than this is not a real deployment (browsers stop near 10);
# refusing early keeps a hostile runtime or peer from making us parse megabytes.
MAX_CHAIN_CERTIFICATES = 16

# One DER certificate; real ones are 1-4 KiB, the largest seen in the wild ~64 KiB.
MAX_CERTIFICATE_BYTES = 64 * 1024

# The host name handed to ValidateServerCertificate (DNS names are at most 253 bytes).
MAX_HOST_NAME_BYTES = 1024

# What the built-in runtime offers in its first call of a two-call callback. The
# specification leaves it to the runtime; a small first buffer exercises the
# SIZE_INSUFFICIENT path on every connection, which is the point.
INITIAL_STRING_CAPACITY = 64
INITIAL_CERT_STORE_CAPACITY = 1024
