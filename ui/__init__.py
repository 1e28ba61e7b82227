"""The Streamlit web app: pages and rendering helpers on top of the ``kb`` library (no retrieval logic here)."""
