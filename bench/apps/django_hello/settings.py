"""bench/per-connection.py's Django project: one JSON view, Django's default request middleware for an API."""
SECRET_KEY = 'kaiser-bench-only'
DEBUG = False
ALLOWED_HOSTS = ['*']
ROOT_URLCONF = 'django_hello.urls'
INSTALLED_APPS = []
MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.middleware.common.CommonMiddleware',
]
DATABASES = {}
USE_TZ = True
