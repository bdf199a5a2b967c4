var = 1;
