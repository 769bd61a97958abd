"""Example programs shipped with sharedlm, importable from an installed package.

``sharedlm.examples.extraction_pipeline:ExtractionPipeline`` is the program ``sharedlm demo`` runs, and a
valid ``PROGRAM`` for ``sharedlm run``.
"""

from sharedlm.examples.extraction_pipeline import AnalyzerSignature, ExtractionPipeline, ExtractorSignature

__all__ = ["AnalyzerSignature", "ExtractionPipeline", "ExtractorSignature"]
