"""Training losses: MMIL (HAN, VALOR recipes), LEAP (L_basic, L_avss), MM-CSE."""
