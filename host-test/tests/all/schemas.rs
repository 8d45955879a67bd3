//! Plugin-supplied schemas against the host (the `hostile-schemas` fixture).
