//! Message analysis: part offsets, ENVELOPE, BODYSTRUCTURE, sections, sizes and search text.
