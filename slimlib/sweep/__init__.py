"""Sweeps and Pareto searches over recipes, run inline, on a local Dask cluster or a remote one.

- grid.py: the grid file format (slimlib.grid/v1) and its expansion into recipes;
- space.py: the default search space (from the ops this build has) and sampling a recipe from it;
- objectives.py: "size:min,speed:max" parsing and reading objective values from an eval result;
- store.py: the study store (Optuna RDB storage: SQLite by default, any SQLAlchemy URL);
- engines.py: where trials run (inline, a Dask LocalCluster, an existing Dask cluster);
- worker.py: the function a worker runs for one trial (recipes travel as JSON, never models);
- driver.py: the ask/tell loop that feeds an engine and stores each trial as it lands.
"""
