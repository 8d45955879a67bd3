//! Confirmation against a deceiving plugin (the `deceiver` fixture).
