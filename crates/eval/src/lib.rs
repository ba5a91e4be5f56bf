//! tarjoman-eval
