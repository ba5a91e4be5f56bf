//! tarjoman-models
