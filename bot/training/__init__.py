"""Fitting the learned weights (`kefu train`): scikit-learn, a dev extra, lives only here."""
