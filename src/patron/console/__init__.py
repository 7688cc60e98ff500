"""Staff console shell: layout, navigation, login, dashboard."""
