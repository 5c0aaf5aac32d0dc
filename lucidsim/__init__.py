"""LucidLink Service API and ``lucid`` CLI simulator. Standard library only; no Django."""
