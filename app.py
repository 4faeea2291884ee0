"""Entry point: `streamlit run app.py`. The page itself lives in dropout_viz/ui/."""

from dropout_viz.ui.page import main

main()
