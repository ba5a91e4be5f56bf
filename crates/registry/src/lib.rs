//! tarjoman-registry
