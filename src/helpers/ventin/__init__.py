"""Ventin et al. 2023 (JAMA Oncol review): tumor burden and CAR T failure, re-derived by simulation."""
