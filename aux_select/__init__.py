"""aux_select: choose and mix auxiliary tasks for multi-task learning (AutoSeM, GradTS)."""
