"""Jain et al. 2021 (Blood 137(19):2621, doi:10.1182/blood.2020007445): tumor IFN signalling,
M-MDSC and CAR T failure. A latent-Gaussian cohort model (``model``), effect sizes
back-calculated from the printed P values (``calibration``), vectorised rank tests
(``stats``), the re-derivation and its replicates (``analysis``) and figures (``figures``).
"""
