"""Private codec building blocks: base64, HMAC, AES-CTR, Go number text, the JSON engine."""
