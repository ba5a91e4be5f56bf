//! tarjoman-engine
