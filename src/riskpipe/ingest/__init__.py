"""Ingestion: landing -> silver (parse, tokenise, quarantine, dedupe, atomic publish)."""
