"""Tests of the embedded default (infra/embedded/)."""
