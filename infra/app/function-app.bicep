// The Flex Consumption function app (Python 3.11) and its settings — the names of contract §4, secretless.
param name string
param planName string
param location string
param tags object = {}
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param maximumInstanceCount int
param instanceMemoryMB int
param applicationInsightsConnectionString string
param queueName string
param ledgerTableName string
param intakeTableName string
param budgetTableName string
param eventsTopicEndpoint string
@description('The admin-password vault (the identity can set secrets there, never read them).')
param adminCredentialsVaultUri string
@description('The App+User refresh token\'s vault (the identity reads and rotates the token there).')
param appUserTokenVaultUri string
@description('Secret in the token vault holding the App+User refresh token that `python -m ops.consent` writes.')
param appUserTokenSecretName string = 'partner-center-app-user'
@description('App+User (indirect resellers, MCA attestation) on: the secret\'s URL is set. Off: the setting is empty, always written so that turning it off lasts (the settings are merged).')
param appUserEnabled bool = false
param partnerCenterCloud string
param partnerCenterTenantId string
param partnerCenterClientId string
param enableGdapByDefault bool
@description('The Dataverse organizations (OrganizationId GUIDs, comma-separated) whose account records POST /api/crm/dataverse accepts; empty closes the route.')
param dataverseOrganizationIds string = ''
@description('The Salesforce organizations (15- or 18-character OrganizationIds, comma-separated) whose outbound messages POST /api/crm/salesforce accepts; empty closes the route.')
param salesforceOrganizationIds string = ''
@secure()
@description('App settings of the operator\'s own (azd EXTRA_APP_SETTINGS, a JSON object): the tunables of docs/operating.md that have no parameter here, such as retention days, CRM_FIELD_MAP or AzureFunctionsJobHost__extensions__queues__batchSize. They cannot change a setting this template sets: that one has its parameter.')
param extraAppSettings object = {}
@description('The whole app\'s Partner Center budget (calls/min), shared by every instance through the storage account; never divided by an instance count.')
param partnerCenterMaxRequestsPerMinute int
@description('The subnet the app joins (VNet integration) to reach storage, the vaults and the topic privately; empty for none. The app itself stays public: the CRMs call it.')
param virtualNetworkSubnetId string = ''

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: { minTlsVersion: '1.2' }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: maximumInstanceCount, instanceMemoryMB: instanceMemoryMB }
      runtime: { name: 'python', version: '3.11' }
    }
  }

  // Settings survive provisioning. A PUT of 'appsettings' replaces the whole list (Azure/bicep#3058), so what the app
  // has now (a setting changed in the portal or with the CLI) is read back and merged: first those, then the
  // operator's extraAppSettings, then what this template sets, which wins (AVM's web/site module merges the same way,
  // Azure/bicep-registry-modules#3311). list() runs when this resource deploys, after the site exists, also on the
  // first deployment; its answer goes into this resource's body, not into a parameter, so the deployment history
  // does not keep it. A setting this template stops setting stays until it is deleted by hand (docs/operating.md).
  resource settings 'config' = {
    name: 'appsettings'
    properties: union(list(resourceId('Microsoft.Web/sites/config', name, 'appsettings'), '2024-04-01').properties, extraAppSettings, {
      // Host storage and the requests queue, identity-based (the account has shared keys disabled).
      AzureWebJobsStorage__accountName: storage.name
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      CrmQueue__queueServiceUri: storage.properties.primaryEndpoints.queue
      CrmQueue__credential: 'managedidentity'
      CrmQueue__clientId: identityClientId
      CUSTOMER_REQUESTS_QUEUE: queueName
      ONBOARDING_LEDGER_TABLE: ledgerTableName
      ONBOARDING_INTAKE_TABLE: intakeTableName
      ONBOARDING_BUDGET_TABLE: budgetTableName
      // Telemetry: the Python worker is the one exporter (configure_azure_monitor on the root logger, so every
      // library's records go; host.json telemetryMode OpenTelemetry), as functions-quickstart-python-azd-otel does.
      // PYTHON_ENABLE_OPENTELEMETRY alone would fail every invocation (the worker's trace propagator stays unset).
      // The exporter reads the authentication string itself: ingestion with the identity (local auth off).
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
      PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
      // Partner Center: secretless — the identity is the app registration's federated credential.
      PARTNER_CENTER_CLOUD: partnerCenterCloud
      PARTNER_CENTER_TENANT_ID: partnerCenterTenantId
      PARTNER_CENTER_CLIENT_ID: partnerCenterClientId
      PARTNER_CENTER_FEDERATED_CLIENT_ID: identityClientId
      PARTNER_CENTER_MAX_REQUESTS_PER_MINUTE: string(partnerCenterMaxRequestsPerMinute)
      AZURE_CLIENT_ID: identityClientId
      // Outcome events (Entra auth, no topic key) and admin passwords.
      EVENTS_TOPIC_ENDPOINT: eventsTopicEndpoint
      EVENTS_SOURCE: '/csp-onboarding/${name}'
      ADMIN_CREDENTIALS_VAULT_URL: adminCredentialsVaultUri
      // App+User (Secure Application Model): the refresh token's version-less secret URL, in its own vault; the
      // identity's role there (rbac.bicep) reads the token, writes each rotated one back and disables superseded ones.
      PARTNER_CENTER_USER_TOKEN_SECRET_URL: appUserEnabled ? '${appUserTokenVaultUri}secrets/${appUserTokenSecretName}' : ''
      ENABLE_GDAP_BY_DEFAULT: string(enableGdapByDefault)
      // The CRM organizations each CRM route accepts (contract §6): the function key alone is in every CRM admin's view.
      DATAVERSE_ORGANIZATION_IDS: dataverseOrganizationIds
      SALESFORCE_ORGANIZATION_IDS: salesforceOrganizationIds
    })
  }
}

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName
