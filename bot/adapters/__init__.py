"""Chat and console adapters: the only modules that know a platform."""
