"""What uWSGI's mule runs (api/uwsgi.ini), as ``__main__``: the API's timer, api/tick.py."""

from api.tick import main

if __name__ == "__main__":  # imported (a walk of the package), it does nothing
    main()
