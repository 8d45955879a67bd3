//! Development aids, the only host code that knows Ingrid: the Ingrid simulator (the modelled
//! API as a real HTTP server on loopback) and the scripted demo that runs against it.

pub mod demo;
pub mod simulator;
