// Owns the precompiled header that every mbmd target reuses.
