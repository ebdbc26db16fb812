"""scs_nb for DAMNIT, the run table of European XFEL: the standard SCS variables
(:mod:`.variables`, usable without DAMNIT), the context file that computes them in
DAMNIT (:mod:`.context`) and template results pushed into a DAMNIT database
(:mod:`.submit`)."""
