//! The system configuration file (`crymap-like.toml`): typed, validated,
//! with defaults. Never reads user data.
